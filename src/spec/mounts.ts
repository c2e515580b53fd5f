import { z } from "zod";
import type { Backend } from "./backend";
import { AbsolutePath } from "./common";
import { tooLong } from "./limits";

/**
 * The storage each backend can mount, as a URI pattern and the sentence shown when a mount does not match.
 * Each cloud mounts its own object store; `kubernetes` mounts PersistentVolumeClaims; `local` mounts directories.
 */
export const MOUNT_URI_RULES: Record<
  Backend,
  {
    /** What a `source_uri` the backend can mount matches. */
    pattern: RegExp;
    /** The accepted form, as the error sentence names it (`a gs://<bucket>/<path> URI`). */
    expected: string;
  }
> = {
  "vertex-ai": {
    pattern: /^gs:\/\/[a-z0-9][a-z0-9._-]{1,221}[a-z0-9](\/.*)?$/,
    expected: "a gs://<bucket>/<path> URI",
  },
  sagemaker: {
    pattern: /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/,
    expected: "an s3://<bucket>/<prefix> URI",
  },
  "azure-ml": {
    pattern: /^azureml:\/\/(.+\/)?datastores\/[A-Za-z0-9_]+\/paths\/.*$/,
    expected: "an azureml://datastores/<datastore>/paths/<path> URI",
  },
  kubernetes: {
    pattern: /^pvc:\/\/[a-z0-9]([-a-z0-9]*[a-z0-9])?(\/.*)?$/,
    expected: "a pvc://<claim-name>/<sub-path> URI naming a PersistentVolumeClaim",
  },
  local: { pattern: /^(file:\/\/)?\/[^\0]*$/, expected: "a file:///<absolute-path> URI or an absolute path" },
};

const mountShape = {
  /** What to mount, as the backend reaches it (`gs://`, `s3://`, `azureml://`, `pvc://`, or a local path). */
  source_uri: z.string().min(1, "must not be empty"),
  /** Where the container sees it: an absolute path without `..`, distinct among the job's mounts. */
  mount_path: AbsolutePath,
  /** Whether the job may only read it. Defaults to false. */
  read_only: z.boolean().default(false),
};

/** A storage mount as the Train API accepts it, without any backend-specific URI check. */
export const StorageMount = z.object(mountShape).strict();
/** A storage mount of a job object, `read_only` filled in. */
export type StorageMount = z.infer<typeof StorageMount>;
/** A storage mount as a request writes it, `read_only` optional. */
export type StorageMountInput = z.input<typeof StorageMount>;

/** A storage mount whose `source_uri` must be storage the given backend can mount. */
export function storageMountFor(backend: Backend) {
  const rule = MOUNT_URI_RULES[backend];
  const sourceUri = mountShape.source_uri.regex(
    rule.pattern,
    `must be ${rule.expected} for the ${backend} backend`,
  );
  if (backend !== "sagemaker")
    return z
      .object({
        ...mountShape,
        /** What to mount, in the form the backend can mount (see {@link MOUNT_URI_RULES}). */
        source_uri: sourceUri,
      })
      .strict();
  // The SageMaker service model: S3Uri is at most 1024 characters, CheckpointConfig.LocalPath 4096.
  return z
    .object({
      ...mountShape,
      /** An `s3://<bucket>/<prefix>` URI of at most 1024 characters. */
      source_uri: sourceUri.max(1024, tooLong(1024, "SageMaker S3Uri")),
      /** An absolute path of at most 4096 characters. */
      mount_path: AbsolutePath.pipe(
        z.string().max(4096, tooLong(4096, "SageMaker CheckpointConfig.LocalPath")),
      ),
    })
    .strict();
}

/** Mounts of one job: mount paths must be distinct, since each becomes one directory in the container. */
export function storageMountsFor(backend: Backend) {
  return z
    .array(storageMountFor(backend))
    .max(16, "must hold at most 16 mounts")
    .superRefine((mounts, ctx) => {
      const seen = new Map<string, number>();
      mounts.forEach((mount, i) => {
        const earlier = seen.get(mount.mount_path);
        if (earlier !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: [i, "mount_path"],
            message: `must differ from storage_mounts[${earlier}].mount_path; got ${mount.mount_path} twice`,
          });
        }
        seen.set(mount.mount_path, i);
      });
      // SageMaker syncs exactly one writable directory to S3 while a job runs (its checkpoint
      // directory); a second writable mount would silently never be saved.
      if (backend === "sagemaker") {
        const writable = mounts.flatMap((m, i) => (m.read_only ? [] : [i]));
        for (const i of writable.slice(1)) {
          ctx.addIssue({
            code: "custom",
            path: [i, "read_only"],
            message: `must be true: the sagemaker backend saves one writable mount (the checkpoint directory) and storage_mounts[${writable[0]}] is already writable`,
          });
        }
      }
    })
    .default([]);
}

/** The environment variable through which the container finds mount `index`. */
export function storageMountEnvName(index: number): string {
  return `STORAGE_MOUNT_${index}_PATH`;
}

/** The local filesystem path of a `local` backend mount URI. */
export function localMountPath(sourceUri: string): string {
  return sourceUri.startsWith("file://") ? decodeURIComponent(sourceUri.slice("file://".length)) : sourceUri;
}

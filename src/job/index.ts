export { DEFAULT_RETRY_POLICY, type RetryPolicy, TrainApiClient } from "./clients/trainapi";
export type { ApiSettings, CancelOutcome, JobClient, SubmitRequest } from "./clients/types";
export { JobApiError } from "./clients/types";
export { type StorageMountProps, WAIT_FOR, type WaitFor } from "./provider";
export { type DeepInput, type StorageMountArgs, TrainingJob, type TrainingJobArgs } from "./training-job";

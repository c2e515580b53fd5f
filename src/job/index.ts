export { BASETEN_DEFAULT_URL, BasetenClient } from "./clients/baseten";
export { CustomTrainingClient } from "./clients/customtraining";
export { SIMPLISMART_DEFAULT_URL, SimplismartClient } from "./clients/simplismart";
export { TENSORONE_DEFAULT_URL, TensorOneClient } from "./clients/tensorone";
export { DEFAULT_RETRY_POLICY, type RetryPolicy, TrainApiClient } from "./clients/trainapi";
export type {
  ApiSettings,
  CancelOutcome,
  JobClient,
  JobSnapshot,
  SubmitRequest,
  VendorSettings,
  VendorSubmitRequest,
} from "./clients/types";
export { JobApiError } from "./clients/types";
export {
  type JobAttempt,
  type JobAttemptEnd,
  JobBackend,
  JobRetryEvent,
  type JobRetryPolicyArgs,
  type JobStorageMountArgs,
  JobWaitFor,
  TrainingJobComponent,
  type TrainingJobComponentArgs,
} from "./component";
export { type StorageMountProps, WAIT_FOR, type WaitFor } from "./provider";
export { type DeepInput, type StorageMountArgs, TrainingJob, type TrainingJobArgs } from "./training-job";

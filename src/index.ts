// The package root holds what every user needs and loads no cloud provider SDK:
// the job schemas and the accelerator catalogue. Cloud components live under trainkit/<cloud>.

export * from "./gpu";
export * from "./spec";

export * from "./checks";
export * from "./gpu-pool";
export * from "./kubeconfig";
export * from "./kubernetes";
export * from "./labels";
export * from "./naming";
export * from "./sentences";
export * from "./train-api";

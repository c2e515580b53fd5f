export * from "./gpu-pool";
export * from "./labels";
export * from "./naming";
export * from "./sentences";

export * from "./api";
export * from "./backend";
export * from "./common";
export * from "./errors";
export * from "./jobs";
export * from "./mounts";
export * from "./status";
export * from "./vendors";

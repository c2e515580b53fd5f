// The Kubernetes components as a Pulumi component package: the Node.js component provider host serves every
// component class exported here, with a schema inferred from their args interfaces and JSDoc.
export * from "../../src/kubernetes";

// TrainingJobComponent as a Pulumi component package, for programs in languages other than TypeScript and
// JavaScript: the Node.js component provider host serves it with a schema inferred from its args and JSDoc.
// Only the component is exported: the TrainingJob dynamic resource it holds is no component.
export { TrainingJobComponent } from "../../src/job/component";

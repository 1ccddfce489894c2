import { main } from './program';

// Pulumi.yaml `main`: Pulumi calls an exported function, awaits it, and publishes its result as stack outputs.
export = main;

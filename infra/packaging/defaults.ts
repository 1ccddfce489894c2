/** Where `npm run package` writes the deployment zip and where the stack looks for it, relative to the project root. */
export const defaultPackagePath = 'dist-package/hs-mlops.zip';

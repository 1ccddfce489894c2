// Development-only require hook: runs TypeScript through @swc/core without a build (node -r ./bench/swc-register.js).
const swc = require('@swc/core');
const fs = require('fs');
require.extensions['.ts'] = function (module, filename) {
  const src = fs.readFileSync(filename, 'utf8');
  const out = swc.transformSync(src, {
    filename,
    jsc: { target: 'es2022', parser: { syntax: 'typescript' } },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  });
  module._compile(out.code, filename);
};

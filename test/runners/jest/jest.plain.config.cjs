/* global __dirname */
// Without tethered's setup file: the control runs, and the files that activate() a policy themselves.
module.exports = { testEnvironment: 'node', rootDir: __dirname, testMatch: ['**/*.spec.cjs'] };

/* global __dirname */
// Every test runs inside noEgress() (tethered/jest); run with --runInBand: several files in one process.
module.exports = { testEnvironment: 'node', rootDir: __dirname, testMatch: ['**/*.spec.cjs'], setupFilesAfterEnv: ['tethered/jest', '<rootDir>/setup.cjs'] };

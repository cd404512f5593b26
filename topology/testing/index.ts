/** The test tooling's entry point: the TestDriver (no broker; time moves when the test moves it). */
export { TestDriver, type TestDriverOptions, type TestOutputRecord } from './test-driver.js';

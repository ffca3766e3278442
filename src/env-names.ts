/**
 * The environment contract: every TETHERED_* variable the package and libtethered.so read or write
 * (native/shim/config.c reads the same names), in one place. Everything else imports the names from here,
 * so that a name cannot be spelt two ways.
 */

/** The variables that carry a policy and its settings to the shim and to children. */
export const ENV = {
    ALLOW: 'TETHERED_ALLOW',
    DENY: 'TETHERED_DENY',
    ALLOW_LOCALHOST: 'TETHERED_ALLOW_LOCALHOST',
    POLICY_FILE: 'TETHERED_POLICY_FILE',
    POLICY_IMAGE: 'TETHERED_POLICY_IMAGE',
    MODE: 'TETHERED_MODE',
    FAIL_CLOSED: 'TETHERED_FAIL_CLOSED',
    LOG: 'TETHERED_LOG',
    LOG_ALLOWED: 'TETHERED_LOG_ALLOWED',
    CHILDREN: 'TETHERED_CHILDREN',
} as const;

/** What every tethered variable starts with (a launch drops ours from the environment it passes on). */
export const ENV_PREFIX = 'TETHERED_';

/** The variables that hold the policy itself: as rules or as an image, never both. */
export const POLICY_CARRIERS = [ENV.ALLOW, ENV.DENY, ENV.POLICY_FILE, ENV.POLICY_IMAGE] as const;

/** What activate() changes in process.env (for children) and deactivate() puts back. */
export const ACTIVATE_ENV_KEYS = [
    'LD_PRELOAD',
    ENV.ALLOW,
    ENV.DENY,
    ENV.ALLOW_LOCALHOST,
    ENV.MODE,
    ENV.FAIL_CLOSED,
    ENV.LOG,
    ENV.CHILDREN,
    ENV.POLICY_FILE,
    ENV.POLICY_IMAGE,
] as const;

/** The variables libtethered.so and the package read, and those the test harness sets. */
export const KNOWN_VARIABLES = [
    ENV.ALLOW,
    ENV.DENY,
    ENV.ALLOW_LOCALHOST,
    ENV.POLICY_FILE,
    ENV.POLICY_IMAGE,
    ENV.MODE,
    ENV.FAIL_CLOSED,
    ENV.LOG,
    ENV.LOG_ALLOWED,
    ENV.CHILDREN,
    'TETHERED_INTERNAL_FAULT',
    'TETHERED_NETNS',
    'TETHERED_NETNS_ENTERED',
    'TETHERED_SANITIZE',
    'TETHERED_TEST_HOSTS',
    'TETHERED_DIFF_SEED',
    'TETHERED_DIFF_SWEEP',
] as const;

// In the test namespace every peer is on loopback: count only 127.0.0.1 as "local" for these tests.
import { configure } from 'tethered/vitest';
configure({ allow: ['127.0.0.1'], allowLocalhost: false });

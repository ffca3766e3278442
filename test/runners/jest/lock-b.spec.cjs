require('./lock.cjs')('lock-b');

require('./lock.cjs')('lock-a');

import lock from './lock.mjs';
lock('lock-a');

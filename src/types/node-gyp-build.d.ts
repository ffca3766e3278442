declare module 'node-gyp-build' {
    interface Load {
        (dir: string): unknown;
        /** The path of the .node file `load(dir)` would load: build/Release first, then prebuilds/. */
        resolve(dir: string): string;
    }
    const load: Load;
    export = load;
}

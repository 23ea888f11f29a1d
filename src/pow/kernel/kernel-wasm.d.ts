// The compiled kernel, bundled into the browser worker by the build (esbuild's binary loader).
declare module 'keypost:kernel-wasm' {
  const bytes: Uint8Array<ArrayBuffer>;
  export default bytes;
}

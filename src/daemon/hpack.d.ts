// Types for the parts of hpack.js (plain JS, no bundled types) that the authority rewriter uses.
declare module 'hpack.js' {
  export interface HpackHeader {
    name: string;
    value: string;
    neverIndex?: boolean;
    incremental?: boolean;
    huffman?: boolean;
  }
  export interface Decompressor {
    write(chunk: Buffer): boolean;
    execute(): void;
    read(): HpackHeader | null;
    on(event: 'error', listener: (err: Error) => void): this;
  }
  export interface Compressor {
    write(headers: HpackHeader[]): boolean;
    read(): Buffer | null;
  }
  const hpack: {
    decompressor: { create(options: { table: { size: number } }): Decompressor };
    compressor: { create(options: { table: { size: number } }): Compressor };
  };
  export default hpack;
}

/**
 * Tar bytes written by hand, for what tar-stream's packer cannot produce: pax records with binary values (a
 * security.capability mask that is not valid UTF-8).
 */
/** A ustar header block, as tar writers make them (octal fields, checksum over the block). */
export function headerBlock(name: string, type: string, size: number, linkname = ''): Buffer {
  const b = Buffer.alloc(512);
  b.write(name, 0, 100, 'utf8');
  b.write('0000644\0', 100, 'latin1');
  b.write('0000000\0', 108, 'latin1');
  b.write('0000000\0', 116, 'latin1');
  b.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  b.write('00000000000\0', 136, 'latin1');
  b.write('        ', 148, 'latin1');
  b.write(type, 156, 'latin1');
  b.write(linkname, 157, 100, 'utf8');
  b.write('ustar\0', 257, 'latin1');
  b.write('00', 263, 'latin1');
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return b;
}

/** One pax record: "<len> key=value\n" where len counts its own digits. */
export function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len++;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

const pad = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);

/** A tar of: a file with binary and UTF-8 xattrs (pax written by hand), a dir, a symlink, a file without. */
export function tarWithBinaryXattrs(cap: Buffer): Buffer {
  const pax = Buffer.concat([
    paxRecord('SCHILY.xattr.security.capability', cap),
    paxRecord('SCHILY.xattr.user.note', Buffer.from('héllo ✓')),
  ]);
  const body = Buffer.from('binary caps\n');
  return Buffer.concat([
    headerBlock('PaxHeaders/ping', 'x', pax.length),
    pad(pax),
    headerBlock('bin/ping', '0', body.length),
    pad(body),
    headerBlock('etc/', '5', 0),
    headerBlock('etc/link', '2', 0, 'plain'),
    headerBlock('etc/plain', '0', 3),
    pad(Buffer.from('abc')),
    Buffer.alloc(1024),
  ]);
}

export const SETUID_CAP = Buffer.from([
  0x01, 0x00, 0x00, 0x02, 0xc0, 0x00, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
]);

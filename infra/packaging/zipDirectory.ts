/**
 * Reads a zip's central directory (the listing the packager reports from) and its entries (what the tests unpack). Zip64 is
 * refused because a Function App package over 4 GB would be wrong long before it was unreadable.
 */
import { inflateRawSync } from 'node:zlib';

/** One entry as the central directory records it. */
export interface ZipEntry {
  readonly name: string;
  /** 0 stored, 8 deflated. */
  readonly method: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly crc32: number;
  /** MS-DOS date and time words, local time. */
  readonly dosDate: number;
  readonly dosTime: number;
  /** Unix mode (type and permission bits) from the upper half of the external attributes. */
  readonly unixMode: number;
  /** Bytes of extra fields in the central record. */
  readonly extraFieldLength: number;
  /** Offset of the entry's local header, where its data starts after the header's name and extra field. */
  readonly localHeaderOffset: number;
}

const endOfCentralDirectory = 0x06054b50;
const centralFileHeader = 0x02014b50;
const endRecordSize = 22;
const maxCommentLength = 0xffff;

/** Lists the entries of the zip held in `zip`, in stored order. */
export function readZipDirectory(zip: Buffer): ZipEntry[] {
  const searchFrom = Math.max(0, zip.length - endRecordSize - maxCommentLength);
  let end = -1;
  for (let offset = zip.length - endRecordSize; offset >= searchFrom; offset -= 1) {
    if (zip.readUInt32LE(offset) === endOfCentralDirectory) {
      end = offset;
      break;
    }
  }
  if (end < 0) throw new Error('not a zip: no end-of-central-directory record');
  const count = zip.readUInt16LE(end + 10);
  const directoryOffset = zip.readUInt32LE(end + 16);
  if (count === 0xffff || directoryOffset === 0xffffffff) throw new Error('zip64 archives are not supported');

  const entries: ZipEntry[] = [];
  let offset = directoryOffset;
  for (let index = 0; index < count; index += 1) {
    if (zip.readUInt32LE(offset) !== centralFileHeader) {
      throw new Error(`corrupt zip: no central directory header at ${offset}`);
    }
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraFieldLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    entries.push({
      name: zip.toString('utf8', offset + 46, offset + 46 + nameLength),
      method: zip.readUInt16LE(offset + 10),
      dosTime: zip.readUInt16LE(offset + 12),
      dosDate: zip.readUInt16LE(offset + 14),
      crc32: zip.readUInt32LE(offset + 16),
      compressedSize: zip.readUInt32LE(offset + 20),
      uncompressedSize: zip.readUInt32LE(offset + 24),
      unixMode: zip.readUInt32LE(offset + 38) >>> 16,
      extraFieldLength,
      localHeaderOffset: zip.readUInt32LE(offset + 42),
    });
    offset += 46 + nameLength + extraFieldLength + commentLength;
  }
  return entries;
}

const localFileHeader = 0x04034b50;

/** The uncompressed bytes of one entry (stored or deflated), checked against its recorded size. */
export function readZipEntry(zip: Buffer, entry: ZipEntry): Buffer {
  const offset = entry.localHeaderOffset;
  if (zip.readUInt32LE(offset) !== localFileHeader)
    throw new Error(`corrupt zip: no local header for ${entry.name}`);
  const dataStart = offset + 30 + zip.readUInt16LE(offset + 26) + zip.readUInt16LE(offset + 28);
  const data = zip.subarray(dataStart, dataStart + entry.compressedSize);
  const contents =
    entry.method === 0 ? Buffer.from(data) : entry.method === 8 ? inflateRawSync(data) : undefined;
  if (contents === undefined)
    throw new Error(`unsupported compression method ${entry.method} for ${entry.name}`);
  if (contents.length !== entry.uncompressedSize) throw new Error(`size mismatch for ${entry.name}`);
  return contents;
}

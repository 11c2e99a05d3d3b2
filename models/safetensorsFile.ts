/**
 * Reading safetensors files from disk tensor by tensor (Node only): the header is read once and
 * each tensor's bytes are read on demand, so multi-gigabyte checkpoints (over Node's 2 GiB
 * readFile limit) load without holding the whole file in memory.
 */
import * as fs from 'node:fs';
import { ModelError } from './errors.ts';
import {
  decodeSafetensorsData,
  parseSafetensorsHeader,
  type SafetensorsTensor,
  type SafetensorsView,
  safetensorsHeaderLength,
} from './safetensors.ts';

/** A SafetensorsView over a file on disk; `close()` releases the file handle. */
export interface SafetensorsFileView extends SafetensorsView {
  close(): void;
}

/**
 * @example
 * const view = openSafetensorsFile('/models/qwen/model.safetensors');
 * try { view.read('model.norm.weight'); } finally { view.close(); }
 */
export function openSafetensorsFile(path: string): SafetensorsFileView {
  if (!fs.existsSync(path))
    throw new ModelError('MISSING_FILE', 'file does not exist', { file: path });
  const fd = fs.openSync(path, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const first8 = new Uint8Array(8);
    fs.readSync(fd, first8, 0, Math.min(8, size), 0);
    const headerLength = safetensorsHeaderLength(first8, size, path);
    const headerBytes = new Uint8Array(headerLength);
    fs.readSync(fd, headerBytes, 0, headerLength, 8);
    const { metadata, entries } = parseSafetensorsHeader(
      headerBytes,
      size - 8 - headerLength,
      path,
    );
    const dataStart = 8 + headerLength;
    return {
      metadata,
      entries,
      read(name: string): SafetensorsTensor {
        const entry = entries.get(name);
        if (entry === undefined)
          throw new ModelError('MISSING_WEIGHT', 'no tensor with this name', {
            file: path,
            field: name,
          });
        const raw = new Uint8Array(entry.byteLength);
        let done = 0;
        while (done < entry.byteLength) {
          const n = fs.readSync(
            fd,
            raw,
            done,
            entry.byteLength - done,
            dataStart + entry.byteOffset + done,
          );
          if (n === 0)
            throw new ModelError('INVALID_SAFETENSORS', 'file ended early', {
              file: path,
              field: name,
            });
          done += n;
        }
        return {
          dtype: entry.dtype,
          shape: [...entry.shape],
          data: decodeSafetensorsData(raw, entry.dtype, path, name),
        };
      },
      close() {
        fs.closeSync(fd);
      },
    };
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
}

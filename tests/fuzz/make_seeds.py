#!/usr/bin/env python3
"""Writes the IDX and builder seeds of the fuzz corpus (tests/fuzz/corpus/idx and build).
Run from the repository root; the model-file seeds come from tests/fuzz/make_seeds.c."""
import gzip, struct, zlib

def idx(magic_type, dims, payload):
    return struct.pack('>BBBB', 0, 0, magic_type, len(dims)) + b''.join(struct.pack('>I', d) for d in dims) + payload

images = idx(0x08, [2, 3, 4], bytes(10 * i % 256 for i in range(24)))
labels = idx(0x08, [5], bytes([0, 1, 2, 9, 4]))
raw = zlib.compressobj(9, zlib.DEFLATED, -15)
deflate = raw.compress(bytes(range(64)) * 4) + raw.flush()
seeds = {
    'idx/images.idx3': images,
    'idx/labels.idx1': labels,
    'idx/images.idx3.gz': gzip.compress(images, mtime=0),
    'idx/labels.idx1.gz': gzip.compress(labels, mtime=0),
    'idx/stored.gz': gzip.compress(images, compresslevel=0, mtime=0),
    'idx/raw.deflate': deflate,
}
# The builder reads: channels, height, width, loss, layer count, then per layer a kind byte
# (0 conv, 1 pool, 2 dense, 3 activation, 4 dropout, 5 flatten, 6 global pooling) and its
# options, then max_batch and inference_only. Option bytes below 224 are values 0..15.
conv = [0, 4, 3, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0]   # 4 filters 3x3, same, relu
pool = [1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]               # max 2x2
dense = [2, 3, 0, 0, 0]                                             # 3 units
seeds['build/conv_pool_dense'] = bytes([1, 8, 8, 0, 3] + conv + pool + dense + [1, 0])
seeds['build/every_kind'] = bytes([2, 7, 9, 1, 7] + conv + [3, 2, 0] + [4, 1] + pool + [6] + [5] + dense + [0, 1])
seeds['build/extremes'] = bytes([1, 5, 5, 0, 2, 0, 3, 3, 0, 0, 226, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0])
for name, data in seeds.items():
    with open('tests/fuzz/corpus/' + name, 'wb') as f:
        f.write(data)

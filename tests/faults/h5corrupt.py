"""Corrupt an HDF5 file the way a disk or a bad copy does, for the fault tests.
  h5corrupt.py FILE flip DATASET   one byte in the middle of DATASET's raw data
                                   (contiguous storage: the file stays a valid
                                   HDF5 file, only the numbers change)
  h5corrupt.py FILE truncate FRACTION   cut the file to FRACTION of its size
"""
import os
import sys

import h5py

path, what = sys.argv[1], sys.argv[2]
if what == "flip":
    with h5py.File(path, "r") as f:
        ds = f[sys.argv[3]]
        off, size = ds.id.get_offset(), ds.id.get_storage_size()
    assert off is not None and size > 0, "no contiguous raw data to corrupt"
    with open(path, "r+b") as fp:
        fp.seek(off + size // 2)
        b = fp.read(1)
        fp.seek(off + size // 2)
        fp.write(bytes([b[0] ^ 0x10]))
elif what == "truncate":
    os.truncate(path, int(os.path.getsize(path) * float(sys.argv[3])))
else:
    sys.exit("usage: h5corrupt.py FILE flip DATASET | truncate FRACTION")

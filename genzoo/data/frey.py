"""Frey faces (`frey_rawface.mat`): 1965 grey 28x20 faces, variable `ff` of shape (560, 1965); the dataset
`frey`, split by seed (there is no official split)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from genzoo.data.catalog import RemoteFile, Request, dataset
from genzoo.data.imageset import ImageSet
from genzoo.errors import DataError

FREY_TEST = 200  # frames held out (seeded random choice) as the test split
REDOWNLOAD = "download it again (`genzoo data fetch frey`)"


def load_frey(folder_or_file: str | Path) -> torch.Tensor:
    path = Path(folder_or_file)
    if path.is_dir():
        path = path / "frey_rawface.mat"
    if not path.is_file():
        raise DataError(f"missing file {path}; {REDOWNLOAD}")
    from scipy.io import loadmat

    try:
        mat = loadmat(path, variable_names=["ff"])
    except Exception as e:  # scipy raises ValueError/TypeError/OSError on corrupt files
        raise DataError(f"{path}: not a readable .mat file ({type(e).__name__}: {e}); "
                        f"the file is corrupt or truncated, {REDOWNLOAD}") from None
    if "ff" not in mat:
        raise DataError(f"{path}: no variable 'ff' in the .mat file; it is not frey_rawface.mat, {REDOWNLOAD}")
    ff = np.asarray(mat["ff"])
    if ff.ndim != 2 or ff.shape[0] != 560:
        raise DataError(f"{path}: expected 'ff' of shape (560, N), got {ff.shape}; {REDOWNLOAD}")
    if ff.dtype.kind not in "ui":
        raise DataError(f"{path}: expected 'ff' to hold integer pixels 0..255, got dtype {ff.dtype}; {REDOWNLOAD}")
    if ff.size and (int(ff.min()) < 0 or int(ff.max()) > 255):
        raise DataError(f"{path}: expected 'ff' to hold pixels 0..255, got values {int(ff.min())}..{int(ff.max())}; "
                        f"{REDOWNLOAD}")
    return torch.from_numpy(np.ascontiguousarray(ff.T.reshape(-1, 1, 28, 20).astype(np.uint8)))


@dataset("frey", "Frey faces, 1,965 grey 28x20 frames of one face (Roweis); continuous data for Gaussian VAEs",
         files=(RemoteFile("frey_rawface.mat", "https://cs.nyu.edu/~roweis/data/frey_rawface.mat",
                           "5aeb024d42b8a6091f30e5eb18c8a48d"),),
         required=("frey_rawface.mat",), shape=(1, 28, 20), splits=("train", "test", "all"),
         license="freely distributed for research (S. Roweis)", aliases=("frey-faces", "frey_faces"))
def load_split(req: Request) -> ImageSet:
    """'all' is every frame; 'test' a seeded random choice of FREY_TEST frames, 'train' the rest."""
    data = ImageSet(load_frey(req.folder()), name=req.name)
    if req.split == "all":
        return data
    train, test = data.split(FREY_TEST, seed=0)
    return train if req.split == "train" else test

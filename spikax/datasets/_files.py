"""Where data sets live, checksums, and downloads into a cache."""

from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import tempfile
import urllib.request


def data_dir(root: str | os.PathLike | None = None) -> pathlib.Path:
    """The folder spikax reads data sets from.

    Resolution order: the explicit `root`, else the environment variable `SPIKAX_DATA`, else the
    download cache [`spikax.datasets.cache_dir`][]. Each data set lives in a sub-folder (`mnist/`,
    `digits/`, `braille/`, ...), but a loader given `root` also accepts the files directly in it.

    **Arguments:**

    - `root`: an explicit folder (wins over everything else).

    **Returns:**

    A `pathlib.Path` (not created, and not checked to exist).

    **Example:**

    ```python
    spikax.datasets.data_dir("/data/snn")  # PosixPath('/data/snn')
    ```
    """
    if root is not None:
        return pathlib.Path(root).expanduser()
    env = os.environ.get("SPIKAX_DATA")
    if env:
        return pathlib.Path(env).expanduser()
    return cache_dir()


def cache_dir() -> pathlib.Path:
    """The folder downloads go to: `$SPIKAX_CACHE`, else `~/.cache/spikax`.

    **Returns:**

    A `pathlib.Path` (created on the first download, not here).

    **Example:**

    ```python
    spikax.datasets.cache_dir()  # e.g. PosixPath('/home/me/.cache/spikax')
    ```
    """
    env = os.environ.get("SPIKAX_CACHE")
    return pathlib.Path(env).expanduser() if env else pathlib.Path.home() / ".cache" / "spikax"


def md5sum(path: str | os.PathLike) -> str:
    """Hex MD5 digest of a file, read in chunks (the loaders check downloads with it).

    **Arguments:**

    - `path`: the file.

    **Returns:**

    The digest as 32 hex characters.

    **Example:**

    ```python
    import pathlib, tempfile
    path = pathlib.Path(tempfile.mkdtemp()) / "hello.txt"
    path.write_text("hello")
    spikax.datasets.md5sum(path)  # '5d41402abc4b2a76b9719d911017c592'
    ```
    """
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download(url: str, dest: pathlib.Path, timeout: float = 60.0) -> None:
    """Download `url` to `dest` atomically (via a temporary file in the same folder)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, out)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def find_file(owner: str, subdir: str, name: str, md5: str | None, *, root=None, mirrors=(),
              download: bool = True) -> pathlib.Path:
    """Locate `subdir/name` locally (checking its MD5), else download it into the cache.

    Looked for, in order: `root/name`, `root/subdir/name` (only when `root` is given), then
    `$SPIKAX_DATA/subdir/name`, then `cache_dir()/subdir/name`.
    """
    base = data_dir(root)
    candidates = [base / name] if root is not None else []  # an explicit root may hold the files directly
    candidates.append(base / subdir / name)
    cached = cache_dir() / subdir / name
    if cached not in candidates:
        candidates.append(cached)
    for path in candidates:
        if path.is_file():
            if md5 is not None and md5sum(path) != md5:
                raise OSError(f"`{owner}`: {path} has the wrong MD5 checksum (expected {md5}); the file is "
                              "corrupt or a different version. Delete it and download it again.")
            return path
    tried = ", ".join(str(p) for p in candidates)
    if not download or not mirrors:
        how = "downloads are disabled" if not download else "no download mirror is known for it"
        raise FileNotFoundError(f"`{owner}`: {name} not found (looked in {tried}) and {how}. Put the file in "
                                f"a folder and pass `root=` or set SPIKAX_DATA to its parent (with a `{subdir}/` "
                                "sub-folder).")
    errors = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + name
        try:
            _download(url, cached)
        except Exception as e:  # network errors come in many types (URLError, timeout, HTTPError, ...)
            errors.append(f"{url}: {e}")
            continue
        if md5 is not None and md5sum(cached) != md5:
            cached.unlink()
            errors.append(f"{url}: wrong MD5 checksum")
            continue
        return cached
    raise FileNotFoundError(f"`{owner}`: {name} not found (looked in {tried}) and could not be downloaded ("
                            + "; ".join(errors) + "). If this machine is offline, copy the file to "
                            f"{cached.parent} or pass `root=` with a folder that holds it.")

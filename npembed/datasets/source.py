"""Where the aclImdb reviews come from: a given path, $NPEMBED_IMDB, the cache folder, or a download.

First match wins:
1. ``path``: an aclImdb .tar.gz (the official aclImdb_v1.tar.gz or a copy holding only the labeled
   reviews), or an extracted aclImdb folder (or the folder that contains it);
2. the environment variable ``NPEMBED_IMDB``, same forms;
3. ``aclImdb_v1.tar.gz`` in the cache folder (``NPEMBED_CACHE``, else ``$XDG_CACHE_HOME/npembed``,
   else ``~/.cache/npembed``);
4. otherwise the official archive is downloaded there, verified by SHA-256, and moved into place.
"""
import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from ..atomic import atomic_write

URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
ARCHIVE_NAME = "aclImdb_v1.tar.gz"


def cache_dir():
    """The per-user folder for the downloaded archive and the processed cache."""
    if os.environ.get("NPEMBED_CACHE"):
        return Path(os.environ["NPEMBED_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "npembed"


def locate(path=None, download_if_missing=True):
    """The archive or folder to read, following the order in the module docstring."""
    for candidate, origin in ((path, "path"), (os.environ.get("NPEMBED_IMDB") or None, "NPEMBED_IMDB")):
        if candidate is not None:
            candidate = Path(candidate).expanduser()
            if not candidate.exists():
                raise FileNotFoundError(f"IMDB data not found: {origin} points to {candidate}, "
                                        "which does not exist")
            return candidate
    cached = cache_dir() / ARCHIVE_NAME
    if cached.exists():
        return cached
    if not download_if_missing:
        raise FileNotFoundError(f"no IMDB archive at {cached}")
    return download(cached)


def download(destination=None, url=None, sha256=None, progress=True):
    """Download the official archive to destination, verify its SHA-256, move it into place."""
    destination = Path(destination or cache_dir() / ARCHIVE_NAME)
    url, sha256 = url or URL, sha256 or SHA256
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=60) as response, \
                atomic_write(destination) as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            bar = _progress_bar(total, f"Downloading {destination.name}", progress)
            while chunk := response.read(1 << 20):
                out.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
            bar.close()
            if digest.hexdigest() != sha256:
                raise ValueError(f"the download from {url} has SHA-256 {digest.hexdigest()}, "
                                 f"expected {sha256}; the file was not kept")
    except (urllib.error.URLError, OSError) as error:
        if isinstance(error, FileNotFoundError) and not str(url).startswith("file:"):
            raise
        raise ConnectionError(
            f"could not download the IMDB archive from {url} ({error}). Without network access, "
            "pass the path of an aclImdb .tar.gz or folder: load_data(path=...), --data PATH, or "
            "the environment variable NPEMBED_IMDB.") from None
    return destination


def _progress_bar(total, description, enabled):
    from tqdm import tqdm
    return tqdm(total=total, unit="B", unit_scale=True, desc=description, disable=not enabled)

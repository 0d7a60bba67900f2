"""`FileSource`: the article files a campaign names explicitly, by glob."""

from __future__ import annotations

import glob
from pathlib import Path

from bot.article import load_article
from bot.errors import BadInput
from bot.sources.base import SourceArticle, logger, path_identity


class FileSource:
    """The files matched by a campaign's `sources.files` globs.

    Relative patterns are relative to `base_dir` (the campaign file's folder); `~` is expanded;
    `**` matches any depth. Like the shell, `*` does not match dotfiles. Directories are ignored.
    """

    def __init__(self, globs: list[str], base_dir: Path) -> None:
        self.globs = list(globs)
        self.base_dir = Path(base_dir)

    def paths(self) -> list[Path]:
        """The matched files, resolved, without duplicates, sorted by path.

        :raises BadInput: a pattern without wildcards names a file that does not exist
            (a typo must not be silent); a pattern with wildcards may match nothing (logged).
        """
        found: dict[str, Path] = {}
        for pattern in self.globs:
            expanded = Path(pattern).expanduser()
            full = expanded if expanded.is_absolute() else self.base_dir / expanded
            matches = [Path(m) for m in glob.glob(str(full), recursive=True)]
            if not glob.has_magic(pattern) and not matches:
                raise BadInput(f"{full}: no such article file (sources.files: {pattern!r})")
            if not matches:
                logger.warning("sources.files: %r matched no file in %s", pattern, self.base_dir)
            for match in matches:
                if match.is_file():
                    found.setdefault(path_identity(match), Path(path_identity(match)))
        return [found[key] for key in sorted(found)]

    def articles(self, default_lang: str | None = None, *, paths: list[Path] | None = None) -> list[SourceArticle]:
        """Load every matched file (or those of `paths`, from `paths()`), in path order.

        :raises BadInput: a file is not a valid article (the message names the file); an
            explicit list of files is the user's statement that each one is an article.
        """
        return [
            SourceArticle(str(path), load_article(path, default_lang=default_lang))
            for path in (self.paths() if paths is None else paths)
        ]

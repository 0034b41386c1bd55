"""Store, its generations: which one is active, building and switching them, and the writers' lease."""

from __future__ import annotations

import time

from assistant.errors import GenerationGone
from assistant.store.copies import _KINDS, Copies, _View


class Generations(Copies):
    """The generations: a pointer collection names the active one, a build marks the one it fills,
    and activating switches to it, dropping the old; the writers' lease is a record beside them."""

    def _pointer(self, view: _View):
        return self._call(view.client.get_or_create_collection, f"{self.name}-active", embedding_function=None)

    def info(self) -> dict:
        records = self._records()
        if records is not None:
            return dict(records.head["info"])
        with self._using() as view:
            return dict(self._pointer(view).metadata or {})

    def active_generation(self) -> str | None:
        return self.info().get("generation")

    def active_version(self) -> tuple[str | None, str]:
        """(generation, revision): the revision changes on every committed index change, also the
        incremental ones that keep the generation, so serving processes know to reload."""
        info = self.info()
        return info.get("generation"), str(info.get("revision", ""))

    def mark_building(self, generation: str, **info) -> None:
        """Record the generation a fresh build is writing, beside the active one: if the build is
        interrupted, the next run resumes it instead of starting from zero."""
        meta = {k: v for k, v in self.info().items() if not k.startswith("building")}
        meta.update({"building": generation, **{f"building_{k}": v for k, v in info.items()}})
        with self._using() as view:
            self._call(self._pointer(view).modify, metadata=meta)

    def activate(self, generation: str, **info) -> None:
        old = self.active_generation()
        meta = {"generation": generation, "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "revision": str(time.time_ns()), **info}
        with self._using() as view:
            self._call(self._pointer(view).modify, metadata=meta)
        if old and old != generation:
            self.drop(old)

    def drop(self, generation: str) -> None:
        from chromadb.errors import NotFoundError

        with self._using() as view:
            view.collections.pop(generation, None)
            for kind in _KINDS:
                try:
                    self._call(view.client.delete_collection, f"{self.name}-{generation}-{kind}")
                except (GenerationGone, NotFoundError):
                    pass  # already gone: dropping is idempotent

    def leftovers(self) -> list[str]:
        """Generations that are neither active nor the pointer: remains of an interrupted rebuild."""
        active, prefix = self.active_generation(), f"{self.name}-"
        with self._using() as view:
            names = [c if isinstance(c, str) else c.name for c in self._call(view.client.list_collections)]
        gens = {n[len(prefix):].rsplit("-", 1)[0] for n in names
                if n.startswith(prefix) and n.endswith(tuple(f"-{kind}" for kind in _KINDS))}
        return sorted(g for g in gens if g != active)

    # the writers' lease (a Chroma server has no lock: this record is one, see indexing.index_lock)
    def _lease_col(self, view: _View):
        return self._call(view.client.get_or_create_collection, f"{self.name}-lease", embedding_function=None)

    def lease(self) -> dict:
        """The current lease record ({"owner", "expires"}), {} when none."""
        with self._using() as view:
            got = self._call(self._lease_col(view).get, ids=["writer"], include=["metadatas"])
        return dict(got["metadatas"][0]) if got["ids"] else {}

    def put_lease(self, owner: str, expires: float) -> None:
        with self._using() as view:
            self._call(self._lease_col(view).upsert, ids=["writer"], embeddings=[[1.0]],
                       metadatas=[{"owner": owner, "expires": expires}])

    def drop_lease(self, owner: str) -> None:
        if self.lease().get("owner") == owner:
            with self._using() as view:
                self._call(self._lease_col(view).delete, ids=["writer"])

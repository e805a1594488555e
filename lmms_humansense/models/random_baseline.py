"""``humansense_random``: a chance-level chat model, the floor every HumanSense number sits on.

It answers like a model that sees nothing: a uniformly random valid letter (single choice), a
random non-empty letter set (multi-select) or a random integer 0-10 (counting), seeded by the doc id
so reruns agree.  It is a *chat* model on purpose: it receives exactly the content blocks a chat
wrapper receives from ``doc_to_messages``, checks that every media block points at a readable file,
and can write what it received to a JSON-lines trace (``--model_args trace=FILE``) so the tests and
users can see what a chat model is given.

Under a multi-process launch each process answers its own share of the questions (the answers
depend on the doc id only, so they do not change with the number of processes); rank 0 empties the
trace file and every process appends whole lines to it.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

from lmms_eval.api.model import lmms

from lmms_humansense import hooks
from lmms_humansense.answers import option_letters
from lmms_humansense.models.args import ModelArgValueStop, check_model_args, constructor_args
from lmms_humansense.models.journal import answer_key, open_journal
from lmms_humansense.models.omni import MEDIA_FAILURES, media_error_answer, question_seed
from lmms_humansense.models.placement import placement


class RandomBaseline(lmms):
    """``--model_args seed=N,trace=FILE,device=...,resume=DIR``; the device only matters to lmms-eval,
    which gathers per-process counts on it (``cuda:<LOCAL_RANK>`` on GPUs, see :func:`placement`);
    ``resume`` keeps every answer in a journal (:mod:`lmms_humansense.models.journal`)."""

    is_simple = False

    def __init__(
        self, seed: int = 0, trace: str = "", device: str | None = None, resume: str = "", **kwargs: Any
    ) -> None:
        # ``**kwargs`` only catches lmms-eval's own batch_size/max_batch_size; a misspelt key stops here.
        check_model_args("humansense_random", kwargs, constructor_args(RandomBaseline))
        super().__init__()
        try:  # a launch it cannot run in stops in one line (exit 1), as humansense_omni does
            place = placement("humansense_random", device)
        except ValueError as exc:
            raise ModelArgValueStop(str(exc)) from None
        self._device = place.device
        self._rank, self._world_size = place.rank, place.world_size
        self._seed = int(seed)
        self._trace = Path(trace) if trace else None
        if self._trace and self._rank == 0:
            # Only rank 0 empties it: lmms-eval's first collective (the per-task request counts)
            # comes after every model is built, so no other rank has appended yet.
            self._trace.parent.mkdir(parents=True, exist_ok=True)
            self._trace.write_text("", encoding="utf-8")
        self.journal = open_journal(resume, "humansense_random", {"seed": self._seed}, "none", self._rank)

    @property
    def device(self) -> Any:
        return self._device

    @staticmethod
    def _blocks(messages: Any) -> list[dict[str, Any]]:
        blocks = []
        for message in messages:
            for item in message.get("content", []):
                kind = item.get("type")
                if kind in ("video", "audio", "image"):
                    url = item.get("url")
                    if not isinstance(url, str) or not os.path.isfile(url):
                        raise FileNotFoundError(f"humansense_random got a {kind} block whose file is missing: {url!r}")
                    blocks.append({"type": kind, "url": url})
                elif kind == "text":
                    blocks.append({"type": "text", "chars": len(item.get("text", ""))})
        return blocks

    def answer(self, doc: dict[str, Any]) -> str:
        rng = random.Random(question_seed(self._seed, str(doc.get("id", ""))))
        fmt = doc.get("answer_format")
        if fmt == "numeric":
            return str(rng.randint(0, 10))
        letters = option_letters(doc.get("options") or [])
        if fmt == "multi":
            k = rng.randint(1, len(letters))
            return "".join(sorted(rng.sample(letters, k)))
        return rng.choice(letters)

    def generate_until(self, requests: list[Any]) -> list[str]:
        out = []
        for request in requests:
            _ctx, doc_to_messages, _gen_kwargs, doc_id, task, split = request.args
            doc = self.task_dict[task][split][doc_id]
            key = answer_key(task, doc_id, doc.get("qid"))
            known = self.journal.get(key) if self.journal else None
            if known is not None:
                out.append(known)
                continue
            response = self._respond(doc, doc_to_messages, task)
            if self.journal:
                self.journal.add(key, response)
            out.append(response)
        return out

    def _respond(self, doc: dict[str, Any], doc_to_messages: Any, task: str) -> str:
        """One answer; a question whose media cannot be read gets its ``media_error`` outcome."""
        try:
            blocks = self._blocks(doc_to_messages(doc))
        except MEDIA_FAILURES as exc:
            said = str(exc) if str(exc).startswith("HumanSense doc") else f"HumanSense doc {doc.get('id')}: {exc}"
            return media_error_answer(said)
        # The hook hands a stock chat wrapper the prompt alone for media that cannot serve the
        # question, and records why; this model says so in its answer, as its other media errors.
        failure = hooks.media_failure(doc)
        if failure is not None:
            return media_error_answer(failure)
        response = self.answer(doc)
        if self._trace:
            line = json.dumps({"task": task, "doc": doc.get("id"), "blocks": blocks, "response": response}) + "\n"
            self._trace.parent.mkdir(parents=True, exist_ok=True)
            # One write() per line on an O_APPEND file: lines of several processes never interleave.
            fd = os.open(self._trace, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)
        return response

    def loglikelihood(self, requests: list[Any]) -> list[tuple[float, bool]]:
        raise NotImplementedError("humansense_random only generates answers")

    def generate_until_multi_round(self, requests: list[Any]) -> list[str]:
        return self.generate_until(requests)

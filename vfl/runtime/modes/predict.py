"""``vfl predict MODEL_DIR --data NAME=PATH ...``: federated scoring of new rows with a saved
model, all parties in this process: PSI on the new IDs, then each party scores with its own part
(only partial scores or routing bits cross). Predictions land at the label holder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vfl.core.errors import ConfigError, DataError
from vfl.core.jobs import new_job_id
from vfl.data.ids import IdRule
from vfl.data.readers import NanPolicy, read_party_table
from vfl.data.table import PartyTable
from vfl.runtime.job.run import PartyOutcome, run_party_job
from vfl.runtime.job.spec import JobSpec
from vfl.runtime.modes.local import run_in_memory
from vfl.runtime.modes.outputs import write_party_outputs
from vfl.runtime.store.modelfile import ModelFile, load_model_file
from vfl.transport.channel import Channel

__all__ = ["predict_in_memory", "predict_local"]


def predict_in_memory(
    parts: dict[str, ModelFile], tables: dict[str, PartyTable], label_holder: str, device: str = "cpu"
) -> dict[str, PartyOutcome]:
    """The one in-memory scoring path (``vfl predict`` and the estimators): every party scores
    its ``tables[name]`` with its own part, as threads over the memory transport."""
    first = parts[label_holder]
    spec = JobSpec.create(
        job_id=new_job_id("predict"),
        parties=list(parts),
        active=label_holder,
        model=first.kind,
        he=str(getattr(first.part, "he", "") or "none"),
        test_size=0.0,
        task="predict",
        model_job_id=first.job_id,
        device=device,
    )

    def work(name: str, channel: Channel) -> PartyOutcome:
        return run_party_job(spec, tables[name], channel, model_file=parts[name])

    return run_in_memory(list(spec.order), spec.job_id, work)


def predict_local(
    model_dir: Path,
    data: dict[str, Path],
    *,
    id_column: str = "id",
    nan_policy: NanPolicy = "error",
    id_rule: IdRule | None = None,
    out_dir: Path = Path("out/predict"),
) -> dict[str, Any]:
    files: dict[str, ModelFile] = {n: load_model_file(model_dir / n / "model.json") for n in data}
    first = next(iter(files.values()))
    if set(first.parts) != set(files):
        raise ConfigError(
            f"the model was trained by {sorted(first.parts)}, the data names {sorted(files)}",
            "give --data for exactly the parties that trained the model",
        )
    if len({f.job_id for f in files.values()}) != 1:
        raise DataError(
            "the model parts come from different training jobs", "use the parts of one training run"
        )
    active = next(n for n, f in files.items() if f.part.role == "active")
    tables = {
        # each party reads the columns its part was trained on; other columns (a label) are ignored
        n: read_party_table(
            p,
            name=n,
            id_column=id_column,
            nan_policy=nan_policy,
            id_rule=id_rule,
            feature_columns=files[n].part.feature_names,
            categories=getattr(files[n].part, "categories", None),  # the trained map: text columns
            offset_column=getattr(files[n].part, "offset_name", None),  # trained with an exposure
        )
        for n, p in data.items()
    }
    outcomes = predict_in_memory(files, tables, active)
    for o in outcomes.values():
        write_party_outputs(out_dir, o)
    return {
        "rows_scored": outcomes[active].intersection,
        "rows_at_label_holder": tables[active].n_rows,
        "predictions": str(out_dir / active / "predictions.csv"),
    }

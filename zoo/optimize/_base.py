"""What the parts of ``edzoo optimize`` share: its profiles and the limits of a student edzoo derives."""

from __future__ import annotations

from ..tasks import Profile

# A team's model arrives trained: no teacher epochs. Fine-tunings and students as for the zoo.
PROFILES = {
    "quick": Profile(
        "quick",
        epochs=0,
        finetune_epochs=2,
        student_epochs=30,
        min_finetune_steps=500,
        min_student_steps=1500,
        select_on_validation=True,
        paired_gate=True,
        bench_runs=100,
        bench_warmup=20,
        golden_samples=3,
        prune_sparsity=0.6,
        pcqat_sparsity=0.6,
    ),
    "full": Profile(
        "full",
        epochs=0,
        finetune_epochs=6,
        student_epochs=60,
        min_finetune_steps=1000,
        min_student_steps=5000,
        select_on_validation=True,
        paired_gate=True,
        bench_runs=300,
        bench_warmup=50,
    ),
}


MERGE_LAYERS = ("Add", "Concatenate", "Multiply", "Subtract", "Average", "Maximum", "Minimum", "Dot")

NARROWED = ("Conv1D", "Conv2D", "Dense", "Embedding")

STUDENT_WIDTHS = (0.5, 0.35, 0.25, 0.18, 0.125)

_STUDENT_MAX_FRACTION = 1 / 3  # of the teacher's parameters, for a student edzoo derives

CARD_KEYS = {
    "namespace",
    "name",
    "version",
    "summary",
    "subjects",
    "grades",
    "languages",
    "license",
    "intended_use",
    "limitations",
    "training_data",
    "evaluation_data",
    "ethical_considerations",
    "education",
}

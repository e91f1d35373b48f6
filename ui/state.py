"""Per-browser-session state shared by all pages: the one place that knows the keys.

Streamlit forgets a widget's value when the user visits a page that does not draw it,
unless the widget has a key and `persist_state="session"`: `kept()` gives both, and puts
the default in session state first (so no widget gets a default *and* a state value).

Every key a page or view reads from session state is named here. Keys that only give a
widget its identity (a chart's, a button's) stay where the widget is drawn.
"""
from __future__ import annotations

from typing import Any

import streamlit as st

KEEP = "keep."                          # prefix of the keys of kept() widgets

# -- state that is not a widget's value --------------------------------------------------------
ACTIVE_CHECKPOINT = "active_checkpoint"  # CheckpointRef.key of the checkpoint in use (its one identity)
WORKSPACE = "workspace"                  # this browser's workspace id (ui.workspace; its cookie)
UPLOADS = "uploaded_checkpoints"         # {ref key: (file name, bytes)}
LAST_UPLOAD = "_last_upload"             # file_id of the checkpoint upload last tried
UPLOAD_ERROR = "_upload_error"           # (file name, why) that upload was not taken into use (None: it was)
PENDING_IMPORT = "_pending_import"       # (name, bytes, about) of an uploaded book state_dict to import
IMPORTED = "_imported"                   # (uploaded file, checkpoint file, origin) of the import just done
LINK_APPLIED = "link.applied."           # + view: the URL values last applied (or written) there
LINK_PARAMS = "link.params."             # + view: the parameters its link carries now
LINK_PROBLEMS = "link.problems."         # + view: why a link's values were refused
OPERATOR_TOKEN = "operator.token"         # the operator token this session gave (never in the URL)
OPERATOR_PASS = "operator.pass"           # the pass this session gave its browser (ui.operator_session; a cookie)
OPERATOR_SIGNED_OUT = "operator.signed_out"   # True after Sign out: the pass the browser sent is ignored
LANGUAGE = "lang"                        # the reader's language, "en" or "zh" (ui.i18n)
LANGUAGE_PICKER = "lang.picker"          # the sidebar's language widget
TAB_ID = "tab_id"                        # this session's short name on the operator page
TRAIN_JOB = "train_job"                  # this tab's core.service.jobs.TrainingJob
TRAIN_TOKEN = "train_token"              # its token in ui.jobs' registry and the URL (?run=)
TRAIN_RUNS = "train_runs"                # finished runs of this tab, for comparison
TRAIN_RECORDED = "train_recorded"        # the job last added to TRAIN_RUNS
TRAIN_RENAME = "train.rename"            # True after a start: give the run-name field a fresh default
COMPARE_OFFERED = "train.compare_offered"   # how many finished runs the overlay has offered
FRA_ENG_DOWNLOAD = "train.fra_eng"       # where this tab downloaded the book's fra-eng.zip
EXPERIMENT_REFUSED = "exercises.refused"  # why the server refused the last Run (a full queue)
EXPERIMENT_JOB = "exercises.job"         # this tab's core.exercises.experiments.ExperimentJob
PREFILLED = "prefilled."                 # + a view: (checkpoint cache key, the values it proposed)
MODEL_TIMINGS = "model.timings"          # {checkpoint cache key: [ConcatTiming]} measured in this tab
CONTEXT_CHOICE = "context.choice"        # (CheckpointRef.key, rule): the decoder-context rule chosen for
                                         # that checkpoint (None: its own rule), kept across pages
CONTEXT_LINKED = "context.linked"        # the ?inference_context= value last applied or written here

# -- widget keys read back from session state, and the sidebar's (drawn by every page) ---------
PICKER = "_checkpoint_picker"            # + "." + a hash of the list: the sidebar's checkpoint picker
UPLOADER = "_checkpoint_upload"          # the sidebar's checkpoint uploader
CONTEXT_RULE = "_context_rule."          # + CheckpointRef.key: the sidebar's decoder-context choice
MASK_BATCH = "mask.batch"                # the notes' 7.4.2 batch as edited in the table
TRAIN_SHOW_LENGTHS = "train.show_lengths"  # the data preview's length histogram, drawn on request
TRAIN_OVERWRITE = "train.overwrite."     # + form + "." + file stem: "overwrite it" ticked for this run
BLEU_WORST = "bleu.worst"                # the worst-sentences table (its row selection)
BLEU_SENTENCE = "bleu.sentence"          # the worst-sentences picker
STEP_SESSION = "step.session"            # (settings key, core.step StepSession, StepReport): the step taken
DECODE_DROPOUT_SEED = "decode.dropout_seed"   # the train-mode runs' seed; "decode again" draws new masks

# -- kept() names (the widget key is KEEP + name) ----------------------------------------------
# Train: every declared setting (core.setups.TRAIN_SETTINGS) is kept under TRAIN_SETTING + its URL
# parameter ("train.tf"): one name for the link and the session, derived, never listed here
TRAIN_SETTING = "train."
TRAIN_PATH = "train.path."               # + the source choice: a file path on the server
# Train: naming, continuing, comparing
TRAIN_NAME = "train.name"
TRAIN_MORE_EPOCHS = "train.more_epochs"
TRAIN_MORE_NAME = "train.more_name."     # + the CheckpointRef.key of the checkpoint continued
TRAIN_COMPARE = "train.compare"
# Masking
MASK_MAXLEN = "mask.maxlen"
MASK_VALID = "mask.valid"
MASK_FILL = "mask.fill"
MASK_MODE = "mask.mode"
MASK_CONFIDENCE = "mask.confidence"
MASK_SIZE = "mask.size"
# Decode
DECODE_SENTENCE = "decode.sentence"
DECODE_REFERENCE = "decode.reference"
DECODE_TOP_K = "decode.top_k"
DECODE_BEAM_SIZE = "decode.beam_size"
DECODE_LENGTH_PENALTY = "decode.length_penalty"
# BLEU (BLEU_PRED and BLEU_REF are also filled by Decode and the corpus table)
BLEU_PRED = "bleu.pred"
BLEU_REF = "bleu.ref"
BLEU_K = "bleu.k"
# Importing the book's weights (sidebar)
IMPORT_API = "import.api"
IMPORT_HOW = "import.how"
IMPORT_EXAMPLES = "import.num_examples"
IMPORT_TRAIN = "import.num_train"
IMPORT_VAL = "import.num_val"
IMPORT_STEPS = "import.num_steps"        # + "." + the API
# Model
MODEL_N = "model.n"
MODEL_T = "model.t"
MODEL_TENSOR = "model.tensor"
MODEL_SENTENCE = "model.sentence"
MODEL_COLOUR = "model.colour"
# Exercises and Accumulation
EXERCISE_PICK = "exercises.pick"
ACCUM_BATCH = "accum.batch"
ACCUM_MICRO = "accum.micro"
ACCUM_LR = "accum.lr"
# Step (the settings of its one step, and the sentence followed through the stages)
STEP_WEIGHTS = "step.weights"
STEP_BATCH = "step.batch"
STEP_SEED = "step.seed"
STEP_ROW = "step.row"
# Decode: decoding with dropout on (train mode)
DECODE_DROPOUT = "decode.dropout"
# Decode: the figure at the top follows beam search's best hypothesis instead of greedy's
DECODE_FIGURE_BEAM = "decode.figure_beam"


def kept(name: str, default: Any) -> dict[str, str]:
    """Widget kwargs: a key whose value lives on across pages; `default` the first time."""
    key = KEEP + name
    st.session_state.setdefault(key, default)
    return {"key": key, "persist_state": "session"}


def get_kept(name: str) -> Any:
    """A kept widget's value (after kept() has put its default in)."""
    return st.session_state[KEEP + name]


def set_kept(name: str, value: Any) -> None:
    """Set a kept widget's value (only before that widget is drawn in this run)."""
    st.session_state[KEEP + name] = value


def get(key: str, default: Any = None) -> Any:
    return st.session_state.get(key, default)


def forget(key: str) -> None:
    """Drop a value, so its widget starts again from its default."""
    st.session_state.pop(key, None)


def put(key: str, value: Any) -> None:
    st.session_state[key] = value


def propose(view: str, owner: str, values: dict[str, Any]) -> None:
    """Kept widget values a view proposes for the checkpoint `owner` (call before they are
    drawn): the first time they are the defaults; when the checkpoint in use changes, values
    still as proposed for the last one are replaced, and values the user typed are kept."""
    previous = get(PREFILLED + view)
    if previous is not None and previous[0] != owner:
        for name, value in values.items():
            if get_kept(name) == previous[1].get(name):
                set_kept(name, value)
    put(PREFILLED + view, (owner, values))


def prefill_bleu(pred: str, ref: str) -> None:
    """Open the BLEU view's sentence mode on this pair (only before its widgets are drawn)."""
    set_kept(BLEU_PRED, pred)
    set_kept(BLEU_REF, ref)

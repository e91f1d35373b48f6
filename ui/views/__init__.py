"""One module per view: what its page draws (pages/ read the widgets and call core).

train_form, train_continue, train_live: Train · masking: Masking · decode, beam, attention:
Decode · bleu: BLEU · exercises: Exercises · accumulation: Accumulation. What several views
share (charts, widgets, cached loaders, session state, jobs, polling) is in ui/.
"""

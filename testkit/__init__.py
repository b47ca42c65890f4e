"""The inputs and the processes that the tests and the benchmarks share.

`tests/` checks the app and `benchmarks/` measures it, on the same inputs and against the same
kind of server, so what they have in common lives here and both import it, while neither
imports the other:

- `testkit.user_images`: MNIST test digits turned into images as users send them, and `encode`,
  an image as a file's bytes;
- `testkit.accuracy`: those images through a preprocessing function and a model, kind by kind;
- `testkit.hostile_inputs`: the corpus of hostile and awkward uploads, each with the answer due;
- `testkit.app`: `python app.py` on a free port, started and stopped;
- `testkit.processes`: an app's process tree, its CPU time and memory, from /proc;
- `testkit.load`: many simulated users of a running app at once, and a flood that fills its queue.

pytest fixtures stay in `tests/conftest.py`; nothing here imports pytest.
"""

"""Training (``main.py --mode train``, ``runGan.py 3|4``): configs, data, the graph and its step,
the run folder, the Trainer and its loop. ``trainer.py`` is the place to start reading."""

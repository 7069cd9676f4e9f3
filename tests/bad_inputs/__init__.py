"""Tables of bad inputs for the bad-input walk (see ``cases.py``)."""

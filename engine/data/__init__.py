"""Data for a descent: the toy problem, synthetic data, table files; a :class:`Dataset` with notes.

numpy and the standard library only (torch only for the toy problem's draw).
"""

"""The secure processing environment (EHDS Art. 73).

Code goes to the data; only checked, released results leave.
"""

"""Feasibility counts and instant anonymous statistics (EHDS Art. 69).

Numbers, never rows: counts after consent and cohort, and tables protected by disclosure
control (threshold, secondary suppression, rounding) or differential privacy.
"""

"""Readers (CSV, Parquet), a party's schema and its validation, ID normalisation, datasets."""

from vfl.data.ids import IdRule, normalise_ids
from vfl.data.readers import read_party_table
from vfl.data.table import PartyTable

__all__ = ["IdRule", "PartyTable", "normalise_ids", "read_party_table"]

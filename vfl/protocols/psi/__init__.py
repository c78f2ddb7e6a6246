"""N-party ECDH PSI where each party learns only the intersection (protocols/specs/psi.md)."""

from vfl.protocols.psi.session import PsiResult, run_psi

__all__ = ["PsiResult", "run_psi"]

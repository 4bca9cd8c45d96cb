"""Consultations (咨询): residents' questions, staff answers, and the ones published as public Q&A."""

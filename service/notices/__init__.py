"""Notices (公告 / 政务公开): drafted, reviewed by a second person, published now or at a set time, revised and
withdrawn; searchable in Chinese and followed by feed."""

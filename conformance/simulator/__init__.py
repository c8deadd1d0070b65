"""The reference Voice API simulator."""

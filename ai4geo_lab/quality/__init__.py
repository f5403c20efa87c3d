"""Quality: product metrics against references and readable HTML reports."""

"""The checkout service: holds, purchases and expiry of admitted people's tickets."""

"""The edge: everything that touches cameras, disks and the network on a compound's box."""

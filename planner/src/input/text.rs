//! Line handling shared by every reader: what people's terminals and chat windows do to output.

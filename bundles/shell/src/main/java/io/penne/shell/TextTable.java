package io.penne.shell;

import java.util.ArrayList;
import java.util.List;

/** Left-aligned text columns, sized to their widest cell; the last column is not padded. */
final class TextTable {
    private final List<String[]> rows = new ArrayList<>();
    private final int columns;

    TextTable(String... header) {
        columns = header.length;
        rows.add(header);
    }

    TextTable row(Object... cells) {
        String[] r = new String[columns];
        for (int i = 0; i < columns; i++)
            r[i] = i < cells.length && cells[i] != null ? cells[i].toString() : "";
        rows.add(r);
        return this;
    }

    int size() {
        return rows.size() - 1;
    }

    @Override
    public String toString() {
        int[] w = new int[columns];
        for (String[] r : rows)
            for (int i = 0; i < columns; i++)
                w[i] = Math.max(w[i], r[i].length());
        StringBuilder sb = new StringBuilder();
        for (String[] r : rows) {
            for (int i = 0; i < columns; i++) {
                sb.append(r[i]);
                if (i < columns - 1)
                    sb.append(" ".repeat(w[i] - r[i].length() + 2));
            }
            int end = sb.length();
            while (end > 0 && sb.charAt(end - 1) == ' ')
                end--;
            sb.setLength(end);
            sb.append('\n');
        }
        return sb.toString();
    }
}

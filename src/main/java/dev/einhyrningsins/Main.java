package dev.einhyrningsins;

public final class Main {
    public static void main(String[] args) {
        System.out.println("einhyrningsins " + Runtime.version());
    }
}
